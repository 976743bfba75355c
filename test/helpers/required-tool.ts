import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The Debian package that ships each tool; .ci/run installs it. */
const PACKAGES = { promtool: 'prometheus', prometheus: 'prometheus' } as const;

export type RequiredTool = keyof typeof PACKAGES;

/**
 * Throws, saying how to install it, when a tool a check depends on is not on PATH. A missing tool fails
 * the check: a skipped check would let CI pass without having run it.
 */
export async function requireTool(tool: RequiredTool): Promise<void> {
  try {
    await run(tool, ['--version']);
  } catch (error) {
    throw new Error(
      `${tool} is required by this check but could not be run (${(error as Error).message}); ` +
        `install it with \`apt-get install ${PACKAGES[tool]}\` (.ci/run does)`,
      { cause: error },
    );
  }
}
