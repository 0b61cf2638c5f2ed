import { execFileSync } from 'node:child_process';

/**
 * Builds dist/ once before the Redis suites: their workers, routers and readers are child
 * processes of the real `rivulet` command (bin/rivulet.js runs the build).
 */
export default function buildOnce(): void {
  execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
}
