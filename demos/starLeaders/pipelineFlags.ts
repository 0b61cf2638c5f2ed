/**
 * The flags that shape the star-leaders pipeline, declared once for the two commands that build
 * it (`star-leaders` and `route star-leaders`), so their names, defaults and checks cannot drift
 * apart. Each is a function returning a fresh Option: commander keeps state on an Option it has
 * been given, so one instance must not be added to two commands.
 */
import { Option } from '@commander-js/extra-typings';
import { duration, positiveInteger } from '../cliFlags';

export const partitionsFlag = (description = 'partitions of the hash ring') =>
  new Option('--partitions <n>', description).argParser(positiveInteger('--partitions')).default(10);

export const windowHoursFlag = () =>
  new Option('--window-hours <n>', 'hours of event time in the star window').argParser(positiveInteger('--window-hours')).default(24);

export const topFlag = () => new Option('--top <n>', 'leaders per partition').argParser(positiveInteger('--top')).default(10);

export const allowedLatenessFlag = () =>
  new Option('--allowed-lateness <duration>', 'how far out of order a star may arrive').argParser(duration('--allowed-lateness')).default(0, '0s');

export const maxFutureFlag = () =>
  new Option('--max-future <duration>', 'how far ahead of the latest event time an event may move time before 3 more confirm the jump (rejected otherwise)')
    .argParser(duration('--max-future'))
    .default(3_600_000, '1h');
