/**
 * The README's first pipeline: the three most-starred repositories of an archive hour, over a
 * sliding 24-hour window of event time. Run it with `node dist/demos/quickstart.js`.
 */
import { EMPTY, last, mergeMap, Observable, of } from 'rxjs';
import { fileLines, Ranked, slidingHourWindow, topK } from '../index';
import { parseGitHubEvent } from './starLeaders/githubEvents';

export function topStarred(file: string): Observable<readonly Ranked<string>[]> {
  return fileLines(file).pipe(
    mergeMap((line) => {
      const parsed = parseGitHubEvent(line.text);
      return parsed.ok && parsed.event.type === 'WatchEvent' ? of(parsed.event) : EMPTY;
    }),
    slidingHourWindow({ keyOf: (star) => star.repo, timestampOf: (star) => star.createdAtMs }),
    topK({ k: 3, keyOf: (change) => change.key, scoreOf: (change) => change.total }),
    last(),
  );
}

if (require.main === module) {
  topStarred('demos/data/gharchive/2015-01-01-0.json.gz').subscribe((top) => console.log(top));
}
