// Entry for worker threads started from TypeScript sources (vitest, tsx): threads do not inherit the
// parent's module hooks, so this registers tsx's loader before importing the worker named in argv.
import { pathToFileURL } from 'node:url';
import { register } from 'tsx/esm/api';

register();
await import(pathToFileURL(process.argv[2]).href);
