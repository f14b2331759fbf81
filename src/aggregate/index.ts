export { Distribution } from './distribution.js';
export { MergedDist } from './merged.js';
export { emptyDist, mergeDist, mergeInto, subtractBasic } from './merge.js';
export { medianOf, parsePercent, percentileOf, rankIndex, statOf } from './stats.js';
export { COUNTS_LENGTH, HIST_MAX, SIGNIFICANT_DIGITS, highestAtIndex, histValue, indexOfValue } from './geometry.js';
export { INLINE_MAX } from './values.js';
export type { BucketsHist, CountSum, DistHist, DistSnapshot, HistData, SnapshotDepth, ValuesHist } from './types.js';
export { windowPercentiles, type WindowStats } from './window.js';
