import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { lastValueFrom } from 'rxjs';
import { topStarred } from '../../demos/quickstart';

describe('the README quickstart pipeline', () => {
  it('finds the three most-starred repositories of the bundled hour, as a naive count does', async () => {
    const file = join(__dirname, '../../demos/data/gharchive/2015-01-01-0.json.gz');
    const stars = new Map<string, number>();
    for (const line of gunzipSync(readFileSync(file)).toString('utf8').split('\n')) {
      if (line === '') continue;
      const e = JSON.parse(line) as { type: string; repo: { name: string } };
      if (e.type === 'WatchEvent') stars.set(e.repo.name, (stars.get(e.repo.name) ?? 0) + 1);
    }
    const naive = [...stars]
      .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1))
      .slice(0, 3)
      .map(([key, score]) => ({ key, score }));
    expect(await lastValueFrom(topStarred(file))).toEqual(naive);
  });
});
