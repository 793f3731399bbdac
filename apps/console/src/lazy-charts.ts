// ECharts is most of the page's bytes, so it is its own chunk: asked for once at start
// (main.ts), it downloads and compiles while the session and the dashboard's data are
// asked, instead of holding up the page's first script.
type Charts = typeof import('./charts');

let loading: Promise<Charts> | undefined;

export function loadCharts(): Promise<Charts> {
  loading ??= import('./charts').then((m) => {
    performance.mark('console:charts-loaded');
    return m;
  });
  return loading;
}
