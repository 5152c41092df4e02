/**
 * Link-local targets (169.254.0.0/16, fe80::/10) host cloud metadata
 * services and are never registries: a reference, redirect or token realm
 * naming one is refused before any connection. Pure.
 */
const V4_LINK_LOCAL = /^169\.254\.\d{1,3}\.\d{1,3}$/;

/** `hostname` as URL gives it (IPv6 in brackets). Names are not resolved here. */
export function isLinkLocal(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, "");
  if (V4_LINK_LOCAL.test(h)) return true;
  if (!h.includes(":")) return false;
  // IPv4-mapped (::ffff:169.254.x.x, which URL rewrites to hex words) and fe80::/10.
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(h);
  if (mapped !== null) return (parseInt(mapped[1] ?? "0", 16) & 0xffff) === 0xa9fe;
  const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  if (dotted !== null) return V4_LINK_LOCAL.test(dotted[1] ?? "");
  const first = parseInt(h.split(":")[0] || "0", 16);
  return (first & 0xffc0) === 0xfe80;
}
