/**
 * fast-check sizes an array by its `size` (by default "small": at most about
 * ten elements), whatever its `maxLength`. Our properties give `maxLength`
 * as the range they mean to cover (a distribution past INLINE_MAX values,
 * streams of hundreds of events over 1/2/4 shards), so an explicit maximum
 * sets the size to it.
 */
import fc from 'fast-check';

fc.configureGlobal({ defaultSizeToMaxWhenMaxSpecified: true });
