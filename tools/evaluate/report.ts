/** report.json (the docs/spec.md §10 contract), report.md and the plots, written into the output folder. */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { FAILURE_THRESHOLD } from './face-alignment-metrics.js';
import type { AnnotationProblem } from './labelled-set.js';
import { calibrationPlot, coveragePlot, cumulativeErrorPlot } from './plots.js';
import type { EvaluationRun, ImageFailure, ServedModel } from './runner.js';
import { SETTING_NAMES, settingMetrics, type SettingMetrics, type SettingName } from './setting-metrics.js';

export interface EvaluationReport {
  model: ServedModel;
  format: 'wflw' | 'coco';
  images: number;
  instances: number;
  failed: ImageFailure[];
  partial: boolean;
  settings: Partial<Record<SettingName, SettingMetrics>>;
}

export interface ReportFiles {
  report: EvaluationReport;
  /** File name → text, everything to write into the output folder. */
  files: Record<string, string>;
}

export const PLOT_FILES = {
  calibration: 'calibration.svg',
  coverage: 'coverage.svg',
  cumulative: 'cumulative-error.svg',
} as const;
// The cumulative error plot reaches twice the failure threshold (and the largest PCK α), so failures show.
const CUMULATIVE_ERROR_LIMIT = 2 * FAILURE_THRESHOLD;

export interface ReportInput {
  format: 'wflw' | 'coco';
  run: EvaluationRun;
  problems: readonly AnnotationProblem[];
  sigmas?: readonly number[] | undefined;
  calibrationBins?: number;
}

export function buildReport(input: ReportInput): ReportFiles {
  const { run, format } = input;
  const failed: ImageFailure[] = [
    ...input.problems.map((problem) => ({ image: problem.image ?? problem.source, reason: problem.reason })),
    ...run.failed,
  ];
  const settings: Partial<Record<SettingName, SettingMetrics>> = {};
  const errors: Partial<Record<SettingName, number[]>> = {};
  for (const setting of SETTING_NAMES) {
    const scored = run.scored[setting];
    if (scored.length === 0) continue;
    const result = settingMetrics(scored, {
      format,
      delta: run.delta,
      sigmas: input.sigmas,
      ...(input.calibrationBins !== undefined ? { calibrationBins: input.calibrationBins } : {}),
    });
    settings[setting] = result.metrics;
    errors[setting] = result.errors;
  }
  const report: EvaluationReport = {
    model: run.model,
    format,
    images: run.images,
    instances: run.scored['tta-off'].length,
    failed,
    partial: run.partial,
    settings,
  };
  const files: Record<string, string> = { 'report.json': JSON.stringify(report, null, 2) + '\n' };
  const evaluated = Object.entries(settings) as [SettingName, SettingMetrics][];
  if (evaluated.length > 0) {
    files[PLOT_FILES.calibration] = calibrationPlot(
      Object.fromEntries(evaluated.map(([name, metrics]) => [name, metrics.calibration])),
    );
    files[PLOT_FILES.coverage] = coveragePlot(Object.fromEntries(evaluated.map(([name, metrics]) => [name, metrics.coverage])));
    files[PLOT_FILES.cumulative] = cumulativeErrorPlot(
      errors,
      format === 'wflw' ? 'NME (inter-ocular)' : 'keypoint error / box diagonal',
      CUMULATIVE_ERROR_LIMIT,
    );
  }
  files['report.md'] = renderMarkdown(report);
  return { report, files };
}

function number(value: number | undefined, digits = 4): string {
  return value === undefined ? '–' : Number(value.toFixed(digits)).toString();
}

function percent(value: number | undefined): string {
  return value === undefined ? '–' : `${(100 * value).toFixed(2)}%`;
}

function table(header: string[], rows: string[][]): string[] {
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => ' --- ').join('|')}|`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ];
}

/** "ellipses at level p hold the truth q of the time", the one line a reader wants from coverage. */
export function coverageSentence(coverage: Readonly<Record<string, number>>): string {
  const [first, ...rest] = Object.entries(coverage);
  if (first === undefined) return 'no coverage measured';
  const others = rest.map(([level, fraction]) => `${level}: ${percent(fraction)}`).join(', ');
  return `ellipses at level ${first[0]} hold the truth ${percent(first[1])} of the time${others ? ` (${others})` : ''}`;
}

export function renderMarkdown(report: EvaluationReport): string {
  const model = report.model;
  const lines: string[] = [`# Evaluation of ${model.name} (version ${model.version}, ${model.executionProvider})`, ''];
  if (report.partial) lines.push('**Partial report: the run was interrupted before every image was sent.**', '');
  if (!model.trained)
    lines.push('The model says `trained: false`: demonstration weights, so these numbers say nothing about a real model.', '');
  lines.push(
    `Format ${report.format}; ${report.images} images and ${report.instances} instances evaluated; ${report.failed.length} failed or skipped as bad input.`,
    '',
  );
  const settings = Object.entries(report.settings) as [SettingName, SettingMetrics][];
  if (settings.length === 0) {
    lines.push('Nothing was evaluated.', '');
  } else {
    const header = ['', ...settings.map(([name]) => name)];
    const row = (label: string, pick: (metrics: SettingMetrics) => string) => [
      label,
      ...settings.map(([, metrics]) => pick(metrics)),
    ];
    const rows: string[][] = [];
    if (report.format === 'wflw') {
      rows.push(
        row('NME', (m) => percent(m.nme)),
        row('FR@0.1', (m) => percent(m.failureRate)),
        row('AUC@0.1', (m) => number(m.auc)),
      );
    } else {
      for (const alpha of Object.keys(settings[0]![1].pck ?? {})) rows.push(row(`PCK@${alpha}`, (m) => percent(m.pck?.[alpha])));
      if (settings[0]![1].oks !== undefined) rows.push(row('OKS', (m) => number(m.oks)));
    }
    rows.push(row('NLL per keypoint (nats, px)', (m) => number(m.nll)));
    for (const level of Object.keys(settings[0]![1].coverage))
      rows.push(row(`coverage at ${level}`, (m) => percent(m.coverage[level])));
    lines.push('## Results', '', ...table(header, rows), '');
    lines.push('## Are the ellipses honest?', '');
    for (const [name, metrics] of settings) lines.push(`- ${name}: ${coverageSentence(metrics.coverage)}.`);
    lines.push('', `![coverage](${PLOT_FILES.coverage})`, '');
    if (report.format === 'wflw') {
      const subsetRows: string[][] = [];
      for (const [name, metrics] of settings) {
        for (const [subset, summary] of Object.entries(metrics.subsets ?? {})) {
          subsetRows.push([name, subset, percent(summary.nme), percent(summary.failureRate), number(summary.auc)]);
        }
      }
      if (subsetRows.length > 0)
        lines.push('## Attribute subsets', '', ...table(['setting', 'subset', 'NME', 'FR@0.1', 'AUC@0.1'], subsetRows), '');
    }
    lines.push(
      '## Calibration',
      '',
      'Keypoints sorted by predicted rmse into equal-count bins; a calibrated model sits on the dashed line.',
      '',
    );
    const binRows: string[][] = [];
    for (const [name, metrics] of settings) {
      metrics.calibration.forEach((bin, i) =>
        binRows.push([name, String(i + 1), String(bin.count), number(bin.predictedRmse), number(bin.empiricalRmse)]),
      );
    }
    lines.push(...table(['setting', 'bin', 'keypoints', 'predicted rmse (px)', 'empirical rmse (px)'], binRows), '');
    lines.push(
      `![calibration](${PLOT_FILES.calibration})`,
      '',
      '## Cumulative error distribution',
      '',
      `![cumulative error](${PLOT_FILES.cumulative})`,
      '',
    );
  }
  if (report.failed.length > 0) {
    lines.push(
      '## Failed or skipped',
      '',
      ...table(
        ['image', 'reason'],
        report.failed.map(({ image, reason }) => [image, reason.replace(/\|/g, '\\|')]),
      ),
      '',
    );
  }
  return lines.join('\n');
}

export async function writeReport(outDir: string, files: Readonly<Record<string, string>>): Promise<void> {
  await mkdir(outDir, { recursive: true });
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(outDir, name), text);
}
