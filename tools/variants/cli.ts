/**
 * npm run models:variant -- --model <name> --precision int8|fp16 [--calibration <dir>] [--count N]
 *   [--max-position-px 0.5] [--models-dir models] [--name <folder>] [--force]
 *
 * Writes models/<name>-<precision>/ (docs/variants.md). Exit codes: 0 written, 1 refused or failed,
 * 2 bad arguments, 3 over the accuracy budget (measured, not written).
 */
import { parseArgs } from 'node:util';
import { makeVariant, VariantOverBudgetError, type VariantPrecision } from './make-variant.js';

const usage =
  'usage: models:variant --model <name> --precision int8|fp16 [--calibration <dir of images>] [--count N] ' +
  '[--max-position-px 0.5] [--models-dir models] [--name <folder>] [--force]';

function fail(message: string, code: number): never {
  console.error(message);
  process.exit(code);
}

function positiveNumber(text: string, flag: string): number {
  const value = Number(text);
  if (!(value > 0) || !Number.isFinite(value)) fail(`${flag} must be a positive number, got "${text}"\n${usage}`, 2);
  return value;
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        model: { type: 'string' },
        precision: { type: 'string' },
        calibration: { type: 'string' },
        count: { type: 'string', default: '32' },
        'max-position-px': { type: 'string', default: '0.5' },
        'models-dir': { type: 'string', default: process.env.MODEL_REPOSITORY ?? 'models' },
        name: { type: 'string' },
        force: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }));
  } catch (error) {
    fail(`${(error as Error).message}\n${usage}`, 2);
  }
  if (values.help) {
    console.log(usage);
    return;
  }
  if (!values.model) fail(`--model is required\n${usage}`, 2);
  if (values.precision !== 'int8' && values.precision !== 'fp16')
    fail(`--precision must be int8 or fp16, got "${values.precision ?? ''}"\n${usage}`, 2);
  const count = positiveNumber(values.count, '--count');
  if (!Number.isInteger(count)) fail(`--count must be a whole number of images, got "${values.count}"`, 2);

  try {
    const result = await makeVariant({
      modelsDir: values['models-dir'],
      model: values.model,
      precision: values.precision as VariantPrecision,
      calibration: values.calibration,
      count,
      maxPositionPx: positiveNumber(values['max-position-px'], '--max-position-px'),
      name: values.name,
      force: values.force,
    });
    const d = result.deviation;
    console.log(
      `Wrote ${result.folder}: maxPositionPx ${d.maxPositionPx.toFixed(4)} (budget ${d.maxPositionPxBudget}), meanPositionPx ${d.meanPositionPx.toFixed(4)}, ` +
        `maxRmseRelative ${d.maxRmseRelative.toFixed(4)}, meanNllDelta ${d.meanNllDelta.toFixed(5)} over ${d.crops} crops`,
    );
  } catch (error) {
    if (error instanceof VariantOverBudgetError) fail(error.message, 3);
    fail(error instanceof Error ? `${error.name}: ${error.message}` : String(error), 1);
  }
}

await main();
