/** Images done, rate and eta on a terminal; nothing at all when the stream is not a TTY (logs, CI, pipes). */
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number): void;
  stop(): void;
}

export function createProgress(total: number, stream: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr): Progress {
  if (!stream.isTTY) return { update() {}, stop() {} };
  const started = Date.now();
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: 'evaluating {bar} {value}/{total} images | {rate} images/s | eta {eta_formatted}',
      etaBuffer: 50,
      hideCursor: true,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { rate: '0.0' });
  return {
    update(done) {
      const seconds = (Date.now() - started) / 1000;
      bar.update(done, { rate: seconds > 0 ? (done / seconds).toFixed(1) : '0.0' });
    },
    stop() {
      bar.stop();
    },
  };
}
