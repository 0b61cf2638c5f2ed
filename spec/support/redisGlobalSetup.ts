import { execFileSync } from 'node:child_process';

/**
 * Builds dist/ once before the Redis suites: their workers, routers and readers are child
 * processes of the real `rivulet` command (bin/rivulet.js runs the build).
 * RIVULET_BUILT=1 skips it when dist/ is known to be fresh.
 */
export default function buildOnce(): void {
  if (process.env.RIVULET_BUILT === '1') return;
  execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
}
