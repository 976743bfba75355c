/**
 * `npm run evaluate -- --url … --model … --format wflw|coco --annotations <file> --images <dir> [--out <dir>]
 * [--token <t>] [--concurrency N] [--limit N]`: a labelled set through the running service, reported as
 * report.json, report.md and SVG plots (docs/spec.md §10, docs/evaluate.md).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { CocoFileError, parseCocoAnnotations } from './coco-annotations.js';
import type { LabelledSet } from './labelled-set.js';
import { createProgress } from './progress.js';
import { buildReport, coverageSentence, writeReport } from './report.js';
import { evaluate, EvaluationError } from './runner.js';
import { parseWflwAnnotations } from './wflw-annotations.js';

export const USAGE = `usage: npm run evaluate -- --url <service> --model <name> --format wflw|coco --annotations <file> --images <dir>
                        [--out <dir>] [--token <t>] [--concurrency N] [--limit N]`;

export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

class UsageError extends Error {}

interface Arguments {
  url: string;
  model: string;
  format: 'wflw' | 'coco';
  annotations: string;
  images: string;
  out: string;
  token: string | undefined;
  concurrency: number;
  limit: number | undefined;
}

function positiveInteger(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < 1)
    throw new UsageError(`--${name} must be a positive integer, got ${JSON.stringify(text)}`);
  return Number(text);
}

function readArguments(argv: readonly string[]): Arguments {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        url: { type: 'string' },
        model: { type: 'string' },
        format: { type: 'string' },
        annotations: { type: 'string' },
        images: { type: 'string' },
        out: { type: 'string', default: 'evaluation' },
        token: { type: 'string' },
        concurrency: { type: 'string', default: '4' },
        limit: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  for (const name of ['url', 'model', 'format', 'annotations', 'images'] as const) {
    if (values[name] === undefined) throw new UsageError(`--${name} is required`);
  }
  if (values.format !== 'wflw' && values.format !== 'coco')
    throw new UsageError(`--format must be wflw or coco, got ${JSON.stringify(values.format)}`);
  return {
    url: values.url!,
    model: values.model!,
    format: values.format,
    annotations: values.annotations!,
    images: values.images!,
    out: values.out,
    token: values.token,
    concurrency: positiveInteger(values.concurrency, 'concurrency')!,
    limit: positiveInteger(values.limit, 'limit'),
  };
}

async function readLabelledSet(args: Arguments): Promise<LabelledSet> {
  let text: string;
  try {
    text = await readFile(args.annotations, 'utf8');
  } catch (error) {
    throw new EvaluationError(`cannot read the annotations ${args.annotations}: ${(error as Error).message}`);
  }
  return args.format === 'coco' ? parseCocoAnnotations(text, args.annotations) : parseWflwAnnotations(text, args.annotations);
}

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

/** Runs the command; resolves to the process exit code. */
export async function main(
  argv: readonly string[],
  io: CliIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const say = (text: string) => io.stderr.write(`${text}\n`);
  let args: Arguments;
  try {
    args = readArguments(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    say(`${error.message}\n${USAGE}`);
    return EXIT.usage;
  }
  const controller = new AbortController();
  let interrupts = 0;
  const onInterrupt = () => {
    interrupts++;
    if (interrupts > 1) process.exit(EXIT.interrupted);
    say('\ninterrupted: finishing with a partial report (Ctrl-C again to quit at once)');
    controller.abort(new Error('interrupted'));
  };
  process.on('SIGINT', onInterrupt);
  try {
    const set = await readLabelledSet(args);
    for (const problem of set.problems) say(`skipped: ${problem.reason}`);
    const instances = args.limit === undefined ? set.instances : set.instances.slice(0, args.limit);
    if (instances.length === 0) {
      say(`nothing to evaluate: ${args.annotations} holds no usable instance`);
      return EXIT.failed;
    }
    const distinctImages = new Set(instances.map((instance) => instance.image)).size;
    const progress = createProgress(distinctImages, io.stderr);
    let run;
    try {
      run = await evaluate({
        url: args.url,
        model: args.model,
        token: args.token,
        imagesDir: args.images,
        instances,
        concurrency: args.concurrency,
        signal: controller.signal,
        onImageDone: (done) => progress.update(done),
      });
    } finally {
      progress.stop();
    }
    const { report, files } = buildReport({ format: args.format, run, problems: set.problems, sigmas: set.sigmas });
    await writeReport(args.out, files);
    for (const failure of run.failed) say(`failed: ${failure.image}: ${failure.reason}`);
    const out = path.resolve(args.out);
    io.stdout.write(
      `${report.partial ? 'partial report' : 'report'}: ${path.join(out, 'report.md')} (${report.images} images, ${report.instances} instances, ${report.failed.length} failed)\n`,
    );
    for (const [name, metrics] of Object.entries(report.settings)) {
      const headline =
        metrics.nme !== undefined
          ? `NME ${(100 * metrics.nme).toFixed(2)}%`
          : metrics.pck
            ? `PCK@0.1 ${(100 * (metrics.pck['0.1'] ?? NaN)).toFixed(2)}%`
            : '';
      io.stdout.write(`${name}: ${headline}, NLL ${metrics.nll.toFixed(3)}; ${coverageSentence(metrics.coverage)}\n`);
    }
    if (report.partial) return EXIT.interrupted;
    return report.instances > 0 ? EXIT.ok : EXIT.failed;
  } catch (error) {
    if (error instanceof EvaluationError || error instanceof CocoFileError) {
      say(error.message);
      return EXIT.failed;
    }
    throw error;
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
