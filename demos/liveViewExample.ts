/**
 * The README's live view: a page that draws this process's heap, fed by an observable, with the
 * last five minutes for a page opened late. Run it with `node dist/demos/liveViewExample.js` and
 * open the address it prints; the page is demos/liveViewExample/ (index.html and page.js).
 */
import { join } from 'node:path';
import { interval, map } from 'rxjs';
import { LiveViewSource, serveLiveView } from '../index';
import { packageRoot } from './packageRoot';

export function memoryView(port = 8080, periodMs = 1000): LiveViewSource {
  // Any observable: here this process's heap, once a second.
  const memory = interval(periodMs).pipe(map(() => ({ at: Date.now(), heapMiB: process.memoryUsage().heapUsed / 2 ** 20 })));

  return serveLiveView({
    port,
    page: { dir: join(packageRoot(), 'demos', 'liveViewExample') }, // index.html and page.js
    feeds: { '/memory': { source: memory, replayLatest: 300 } }, // a page opened later gets the last 5 minutes first
  });
}

if (require.main === module) {
  memoryView().subscribe((view) => console.log(`open ${view.url}`)); // open http://127.0.0.1:8080/
}
