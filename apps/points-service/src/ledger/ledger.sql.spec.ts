import { LEDGER_SQL } from './ledger.sql';

// The bench's copy, as bench/points.js runs it (plain JavaScript, outside the build).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { SQL: FLOOR } = require('../../../../bench/sql/points-floor.js') as { SQL: Record<string, string> };

const words = (sql: string) => sql.replace(/\s+/g, ' ').trim();

describe('bench:points floor', () => {
  it('runs every ledger statement it names, text for text (white space aside)', () => {
    expect(Object.keys(FLOOR).sort()).toEqual(Object.keys(LEDGER_SQL).sort());
    for (const [name, text] of Object.entries(LEDGER_SQL)) expect({ name, sql: words(FLOOR[name]) }).toEqual({ name, sql: words(text) });
  });
});
