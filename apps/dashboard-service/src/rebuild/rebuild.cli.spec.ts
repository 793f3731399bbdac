import { formatReport, parseRebuildArgs } from './rebuild.cli';

describe('parseRebuildArgs', () => {
  it.each<[string[], object]>([
    [['--crm-id', 'c1'], { crmId: 'c1', apply: false, source: 'card' }],
    [['--crm-id=c1', '--apply'], { crmId: 'c1', apply: true, source: 'card' }],
    [['--apply', '--crm-id', 'c1', '--source', 'staged'], { crmId: 'c1', apply: true, source: 'staged' }],
  ])('%j', (argv, expected) => expect(parseRebuildArgs(argv)).toEqual(expected));

  it.each<[string[], RegExp]>([
    [[], /--crm-id is required/],
    [['--crm-id', 'a b'], /--crm-id must be/],
    [['--crm-id', 'c1', '--source', 'file'], /--source must be card or staged/],
    [['--crm-id', 'c1', '--force'], /unknown argument "--force"/],
  ])('%j is refused', (argv, why) => expect((parseRebuildArgs(argv) as { error: string }).error).toMatch(why));
});

describe('formatReport', () => {
  const tables = [
    { table: 'card_day', compared: 3, differing: 0 },
    { table: 'member_span', compared: 2, differing: 1 },
  ];

  it('lists rows compared per table and each difference', () => {
    const text = formatReport(
      {
        crm_id: 'c1',
        facts: 7,
        tables,
        applied: false,
        differences: [{ table: 'member_span', key: { kind: 'claim', day: '2024-03-01', prev_day: '0001-01-01' }, live: { n: 2 }, rebuilt: null }],
      },
      1_500,
    );
    expect(text).toContain('dashboard rebuild of c1: 7 fact(s) in 1.5 s');
    expect(text).toMatch(/card_day\s+3 row\(s\) compared, 0 different/);
    expect(text).toContain('1 difference(s):');
    expect(text).toContain('member_span {"kind":"claim","day":"2024-03-01","prev_day":"0001-01-01"}: live {"n":2}, rebuilt null');
  });

  it('says when there is none', () => {
    expect(formatReport({ crm_id: 'c1', facts: 0, tables: tables.map((t) => ({ ...t, differing: 0 })), applied: false, differences: [] }, 10)).toMatch(
      /no difference$/,
    );
  });
});
