import { join } from 'node:path';

// Every spec reads its data from inside the repository, so a clone passes `npm test` alone.
// Provenance: demos/data/SOURCE.md (the bundled sample) and spec/fixtures/SOURCE.md.

const ROOT = join(__dirname, '..', '..');
const BUNDLED = join(ROOT, 'demos', 'data');
const FIXTURES = join(ROOT, 'spec', 'fixtures');

/** Wallaroo's six day logs, day_1.log .. day_6.log (the original log-counts input), in order. */
export const WALLAROO_DAYS: readonly string[] = [1, 2, 3, 4, 5, 6].map((d) => join(BUNDLED, 'logs', `day_${d}.log`));

/** The complete GH Archive hours 2015-01-01 00h and 01h (7,702 and 7,427 events), in order. */
export const GH_ARCHIVE_HOURS: readonly string[] = [0, 1].map((h) => join(BUNDLED, 'gharchive', `2015-01-01-${h}.json.gz`));

/** All 7,700 partitions Wallaroo's own partitioner gave the repos of the GH Archive samples. */
export const HASH_RING_VECTORS = join(FIXTURES, 'wallaroo-hash-ring-vectors.jsonl');

/** Every 40th line of the elastic/examples access log (4 days of May 2015) and its truncated line. */
export const ELASTIC_LOG_SAMPLE = join(FIXTURES, 'elastic-apache-sample.log');

/** Every 40th line of the antlr.org access log (Combined Log Format, 2 Sep 2003). */
export const ANTLR_LOG_SAMPLE = join(FIXTURES, 'antlr-access-sample.log');

/** 26 of the 800 events of Apache Pinot's GH Archive extract, over 3 hours of 2021-07-21. */
export const PINOT_EVENTS_SAMPLE = join(FIXTURES, 'pinot-2021-07-21-sample.json');
