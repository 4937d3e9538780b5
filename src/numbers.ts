/**
 * Counts as the reports print them: n.toLocaleString('en-US') (digits grouped by commas), done by
 * hand for integers so that a report needs no ICU number formatter (creating the first one costs
 * about 25 ms); anything else goes to toLocaleString.
 */
export function formatInteger(n: number): string {
  if (!Number.isSafeInteger(n) || Object.is(n, -0)) return n.toLocaleString('en-US');
  const digits = String(Math.abs(n));
  let out = digits.slice(0, ((digits.length - 1) % 3) + 1);
  for (let i = out.length; i < digits.length; i += 3) out += `,${digits.slice(i, i + 3)}`;
  return n < 0 ? `-${out}` : out;
}
