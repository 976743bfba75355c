// A worker that fails while starting, as one whose native library will not load does.
throw new Error('cannot load the inference library');
