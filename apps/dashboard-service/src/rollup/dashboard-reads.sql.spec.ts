import { READ_SQL } from './dashboard-reads.sql';

// The bench's copy, as bench/dashboard.js runs it (plain JavaScript, outside the build).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { SQL: FLOOR } = require('../../../../bench/sql/dashboard-reads.js') as {
  SQL: { trend: (withCard: boolean) => string; channelCounts: (withCard: boolean) => string; top: string; titles: string };
};

const words = (sql: string) => sql.replace(/\s+/g, ' ').trim();

describe('bench:dashboard floor', () => {
  it("runs the routes' statements, text for text (white space aside)", () => {
    expect(Object.keys(FLOOR).sort()).toEqual(Object.keys(READ_SQL).sort());
    for (const withCard of [true, false]) {
      expect(words(FLOOR.trend(withCard))).toBe(words(READ_SQL.trend(withCard)));
      expect(words(FLOOR.channelCounts(withCard))).toBe(words(READ_SQL.channelCounts(withCard)));
    }
    expect(words(FLOOR.top)).toBe(words(READ_SQL.top));
    expect(words(FLOOR.titles)).toBe(words(READ_SQL.titles));
  });
});
