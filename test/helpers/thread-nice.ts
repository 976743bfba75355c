import { readdirSync, readFileSync } from 'node:fs';

/** Nice values of this process's threads, by thread id (Linux /proc). */
export function threadNiceValues(): Map<number, number> {
  const values = new Map<number, number>();
  for (const task of readdirSync('/proc/self/task')) {
    const stat = readFileSync(`/proc/self/task/${task}/stat`, 'utf8');
    // Fields after the command name; nice is field 19 of stat, the 17th after it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    values.set(Number(task), Number(fields[16]));
  }
  return values;
}
