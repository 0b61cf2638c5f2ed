/** Prints the functions with the most self time in a .cpuprofile (node --cpu-prof). */
import { readFileSync } from 'node:fs';

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }; hitCount?: number; children?: number[] }

export function summarizeProfile(path: string, top = 25): string {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as { nodes: ProfileNode[]; samples: number[] };
  const total = profile.samples.length;
  const self = new Map<string, number>();
  for (const n of profile.nodes) {
    const { functionName, url, lineNumber, columnNumber } = n.callFrame;
    const where = `${functionName || '(anonymous)'} ${url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${lineNumber + 1}:${columnNumber + 1}`;
    self.set(where, (self.get(where) ?? 0) + (n.hitCount ?? 0));
  }
  return [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([where, hits]) => `${((100 * hits) / total).toFixed(1).padStart(5)}%  ${where}`)
    .join('\n');
}

if (require.main === module) console.log(summarizeProfile(process.argv[2], Number(process.argv[3] ?? 25)));
