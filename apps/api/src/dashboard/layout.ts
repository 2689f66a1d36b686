import { html, raw, type RawHtml } from "./html.js";

const STYLE = `
:root { --ink:#16212b; --muted:#5d6b78; --line:#e3e8ee; --bg:#f5f7fa; --card:#fff; --accent:#1f6feb; --ok:#1a7f37; --warn:#9a6700; --bad:#cf222e; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; color:var(--ink); background:var(--bg); }
header { background:#0f1b26; color:#fff; padding:14px 32px; display:flex; align-items:center; gap:16px; }
header .brand { font-weight:700; letter-spacing:.02em; }
header a { color:#9ecbff; margin-left:auto; text-decoration:none; }
main { max-width:1040px; margin:28px auto; padding:0 24px; }
h1 { font-size:24px; margin:0 0 4px; }
.sub { color:var(--muted); margin:0 0 24px; }
.grid { display:grid; grid-template-columns:repeat(auto-fit,minmax(230px,1fr)); gap:16px; margin-bottom:16px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:18px 20px; }
main > .card { margin-bottom:16px; }
.card h2 { font-size:13px; text-transform:uppercase; letter-spacing:.06em; color:var(--muted); margin:0 0 10px; }
.big { font-size:22px; font-weight:600; }
progress { appearance:none; width:100%; height:8px; margin:8px 0 4px; border:0; border-radius:4px; background:var(--line); overflow:hidden; }
progress::-webkit-progress-bar { background:var(--line); }
progress::-webkit-progress-value { background:var(--accent); }
.muted { color:var(--muted); font-size:13px; }
.badge { display:inline-block; padding:2px 10px; border-radius:999px; font-size:13px; font-weight:600; background:#eef2f6; }
.badge.provisioned, .badge.succeeded { background:#dafbe1; color:var(--ok); }
.badge.provisioning, .badge.changing_plan, .badge.running, .badge.pending, .badge.deprovisioning { background:#fff8c5; color:var(--warn); }
.badge.failed { background:#ffebe9; color:var(--bad); }
.badge.degraded { background:#fff1e5; color:#bc4c00; }
code.url { display:block; padding:10px 12px; background:#0f1b26; color:#e6edf3; border-radius:6px; word-break:break-all; font-size:13px; }
button { font:inherit; padding:6px 14px; border-radius:6px; border:1px solid var(--line); background:#fff; cursor:pointer; margin-top:10px; }
table { width:100%; border-collapse:collapse; }
td, th { text-align:left; padding:8px 6px; border-bottom:1px solid var(--line); font-size:14px; vertical-align:top; }
th { color:var(--muted); font-weight:500; font-size:13px; }
svg { width:100%; height:auto; }
nav.filters { margin:0 0 12px; font-size:14px; }
nav.filters a { display:inline-block; margin:2px 4px 2px 0; padding:2px 10px; border-radius:999px; border:1px solid var(--line); background:#fff; color:var(--ink); text-decoration:none; }
nav.filters a.active { background:var(--accent); border-color:var(--accent); color:#fff; }
td code { font-size:12px; }
main.wide { max-width:1440px; }
td.nowrap { white-space:nowrap; }
`;

export interface LayoutOptions {
  title: string;
  body: RawHtml;
  nonce: string;
  /** The customer's way back to the app on the platform. */
  backLink?: string;
  /** Which surface this is, beside the brand. */
  section?: string;
  /** A link at the right of the header, e.g. the operator page's to the job queues. */
  link?: { href: string; label: string };
  /** Wide tables: the page takes more of the screen. */
  wide?: boolean;
}

export function layout({ title, body, nonce, backLink, section = "Database dashboard", link, wide = false }: LayoutOptions): string {
  const headerLink = link ?? (backLink ? { href: backLink, label: "← Back to your app" } : undefined);
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Berth</title>
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
<header><span class="brand">Berth</span><span>${section}</span>${headerLink ? html`<a href="${headerLink.href}">${headerLink.label}</a>` : ""}</header>
${wide ? raw('<main class="wide">') : raw("<main>")}${body}</main>
</body>
</html>`.value;
}

/** Page-level security headers: the dashboard runs only its own inline code, marked with the nonce. */
export function securityHeaders(nonce: string): Record<string, string> {
  return {
    "content-type": "text/html; charset=utf-8",
    "content-security-policy": `default-src 'none'; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'`,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
  };
}
