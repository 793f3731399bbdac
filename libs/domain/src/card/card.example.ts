import example from './card.example.json';

/**
 * The spec's example card (create body), with one correction: a discount card needs a
 * rate in (0, 1), so `discount` is 0.8 rather than the example's 0 (docs/api-notes.md).
 * The API docs, the tests and the benchmarks (which read the JSON) start from it.
 */
export const EXAMPLE_CARD = example;
