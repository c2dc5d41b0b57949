// USD amounts as people read them: the rule of docs/protocol.md ("Amounts"), as server/money.py applies it.
// An amount is read from its shortest decimal form (String(x), what the upstream printed) and rounded
// half away from zero on those digits, never on x * 100 (1.005 * 100 is 100.49999999999999).

// |x| as decimal digits with the point after `point` of them: 2.675 -> {digits: "2675", point: 1}.
function decimal(x) {
  const [mantissa, exponent = "0"] = String(Math.abs(x)).split("e"); // "2.675", "1e-7", "1.5e+21"
  const [whole, fraction = ""] = mantissa.split(".");
  const digits = (whole + fraction).replace(/^0+/, "");
  const point = whole.length + Number(exponent) - ((whole + fraction).length - digits.length);
  return { digits, point };
}

// round(|x| * 10^places), half away from zero, as a BigInt: (2.675, 2) -> 268n.
function scaled(x, places, shift = 0) {
  const { digits, point } = decimal(x);
  const keep = point - shift + places; // digits left of the rounding position
  if (!digits || keep < 0) return 0n;
  const head = digits.slice(0, keep).padEnd(keep, "0");
  const up = (digits[keep] || "0") >= "5" ? 1n : 0n;
  return BigInt(head || "0") + up;
}

const grouped = (whole) => whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");

function signed(x, units, text) {
  return x < 0 && units !== 0n ? `-$${text}` : `$${text}`;
}

// `$1,234.57` for 1234.565; `$0.13` for 0.125; `$0.00` for 1e-7.
export function formatUsd(amount) {
  const x = Number(amount);
  if (!Number.isFinite(x)) return "—";
  const cents = scaled(x, 2).toString().padStart(3, "0");
  return signed(x, BigInt(cents), `${grouped(cents.slice(0, -2))}.${cents.slice(-2)}`);
}

// A whole number of cents (prizes, pools), exact: `$1,000` when whole dollars, else `$1,000.50`.
export function formatCents(cents) {
  const n = BigInt(Math.trunc(Number(cents) || 0));
  const abs = (n < 0n ? -n : n).toString().padStart(3, "0");
  const whole = grouped(abs.slice(0, -2));
  const rest = abs.slice(-2);
  return signed(Number(n), n, rest === "00" ? whole : `${whole}.${rest}`);
}

// a - b as the decimals they were printed as, then the nearest float (server/money.py derived_amount):
// 50.1 - 40.03 is 10.07, not 10.070000000000007, so a gap rounds to cents like the amounts do.
export function derivedAmount(a, b) {
  const x = Number(a);
  const y = Number(b);
  if (!Number.isFinite(x) || !Number.isFinite(y)) return x - y;
  const [dx, dy] = [decimal(x), decimal(y)];
  // |x| is digits * 10^(point - digits.length); line both up on the smaller power of ten.
  const exp = Math.min(dx.point - dx.digits.length, dy.point - dy.digits.length);
  const whole = (v, d) => (d.digits ? BigInt(d.digits) * 10n ** BigInt(d.point - d.digits.length - exp) : 0n) * (v < 0 ? -1n : 1n);
  return Number(`${whole(x, dx) - whole(y, dy)}e${exp}`);
}

const UNITS = ["", "K", "M", "B", "T"];

// The short form (chart axes, the overlay's `short=1`): `$26.3K` for 26259. One decimal, a
// trailing ".0" dropped ($1K, not $1.0K), rounded half away from zero by the same rule as
// formatUsd (on the shortest decimal form: 26250 is $26.3K, 2.45e9 is $2.5B). The unit is the
// one the rounded value fits: 999.95 is $1K and 999,950 is $1M, never $1000K. Under 1,000 no
// unit ($999.9, $12.3, $0.5); from T up the thousands are grouped ($1,500T). Negative amounts
// read -$1.2K, an amount that rounds to nothing reads $0 (no "-$0"), NaN and infinities "—".
export function formatUsdCompact(amount) {
  const x = Number(amount);
  if (!Number.isFinite(x)) return "—";
  const { digits, point } = decimal(x);
  let unit = digits ? Math.min(UNITS.length - 1, Math.max(0, Math.floor((point - 1) / 3))) : 0;
  let tenths = scaled(x, 1, 3 * unit);
  if (tenths >= 10000n && unit < UNITS.length - 1) tenths = scaled(x, 1, 3 * ++unit); // 999.96K is 1M
  const whole = grouped((tenths / 10n).toString());
  const rest = tenths % 10n;
  return signed(x, tenths, `${rest ? `${whole}.${rest}` : whole}${UNITS[unit]}`);
}
