import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { ReadableStream as WebReadableStream } from 'node:stream/web';

/** Reads an import file line by line from an http(s) URL, without holding it in memory. */
export async function* linesFromUrl(url: string, timeoutMs = 60_000): AsyncGenerator<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok || !res.body) throw new Error(`generate_file ${url} answered HTTP ${res.status}`);
  const lines = createInterface({ input: Readable.fromWeb(res.body as unknown as WebReadableStream), crlfDelay: Infinity });
  for await (const line of lines) yield line;
}
