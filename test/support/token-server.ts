// A small Docker-registry token server (distribution "token" auth) for tests.
// Issues RS256 JWTs with an `x5c` header; docker-registry verifies them against `rootcertbundle`.
//
// Policy: repositories under `public/` are anonymously pullable; any other pull needs a valid user;
// the admin user gets every requested action (push, pull, delete, *) everywhere, incl. registry:catalog:*.
// Unknown users / wrong passwords / unknown refresh tokens get 401. Requests without credentials
// get a token carrying only what anonymous users may do (possibly nothing), like Docker Hub.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { randomBytes, sign as cryptoSign } from "node:crypto";
import type { Socket } from "node:net";
import type { LeafCert } from "./certs.ts";

export interface TokenServerOptions {
  /** Serve HTTPS with this PEM cert/key; plain HTTP when omitted. */
  tls?: { cert: string; key: string };
  /** Signing key + cert (see makeSigningCert); its CA is the registry's rootcertbundle. */
  signing: LeafCert;
  service: string;
  issuer: string;
  /** username → password. Read on every request (mutations take effect immediately). */
  users?: Record<string, string>;
  /** Username that gets all actions everywhere. */
  admin?: string;
  /** refresh/identity token → username (for POST grant_type=refresh_token). */
  identityTokens?: Record<string, string>;
  /** `expires_in` in responses and JWT lifetime in seconds (default 300). `null`: omit `expires_in`, JWT lives 60 s. */
  expiresIn?: number | null;
}

/** One logged token request. No secrets: query keys that look secret are dropped. */
export interface TokenRequestLogEntry {
  method: string;
  path: string;
  /** Query parameters (repeated keys joined with a space, e.g. several `scope`s). */
  query: Record<string, string>;
  /** Requested scopes (GET `scope` params or POST form `scope`, split on spaces). */
  scopes: string[];
  /** "password" | "refresh_token" for POST; undefined for GET. */
  grantType?: string;
  hadAuthorization: boolean;
  /** Authenticated user, if credentials were valid. */
  user?: string;
  status: number;
}

/** A canned response to inject instead of normal handling. */
export interface TokenFault {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface TokenServer {
  /** Base URL, e.g. https://127.0.0.1:PORT */
  url: string;
  /** Token endpoint (the registry's `realm`): `${url}/token`. */
  realm: string;
  service: string;
  issuer: string;
  requests(): TokenRequestLogEntry[];
  clear(): void;
  /** Fault injection: return a response to short-circuit a request, undefined for normal handling. */
  setFault(fn: ((req: { method: string; path: string; query: Record<string, string> }) => TokenFault | undefined) | undefined): void;
  setExpiresIn(seconds: number | null): void;
  /** Sign an arbitrary JWT access list (e.g. for tests of forged/expired tokens). */
  issue(sub: string, access: Access[], lifetimeSeconds?: number): string;
  stop(): Promise<void>;
}

export interface Access {
  type: string;
  name: string;
  actions: string[];
}

const SECRET_KEY = /pass|secret|token|auth/i;

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString("base64url");
}

function parseScope(scope: string): Access | undefined {
  const parts = scope.split(":");
  if (parts.length < 3) return undefined;
  const type = parts[0] ?? "";
  const actions = (parts[parts.length - 1] ?? "").split(",").filter((a) => a !== "");
  const name = parts.slice(1, -1).join(":");
  return { type, name, actions };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

export async function startTokenServer(opts: TokenServerOptions): Promise<TokenServer> {
  const users = opts.users ?? {};
  const identityTokens = opts.identityTokens ?? {};
  let expiresIn: number | null = opts.expiresIn === undefined ? 300 : opts.expiresIn;
  let fault: ((req: { method: string; path: string; query: Record<string, string> }) => TokenFault | undefined) | undefined;
  const log: TokenRequestLogEntry[] = [];
  const sockets = new Set<Socket>();

  function issue(sub: string, access: Access[], lifetimeSeconds?: number): string {
    const now = Math.floor(Date.now() / 1000);
    const life = lifetimeSeconds ?? expiresIn ?? 60;
    const header = { typ: "JWT", alg: "RS256", x5c: [opts.signing.certDerBase64] };
    const claims = {
      iss: opts.issuer,
      sub,
      aud: opts.service,
      exp: now + life,
      nbf: now - 1,
      iat: now,
      jti: randomBytes(12).toString("hex"),
      access,
    };
    const raw = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = cryptoSign("sha256", Buffer.from(raw), opts.signing.keyPem);
    return `${raw}.${b64url(sig)}`;
  }

  function grant(user: string | undefined, requested: Access[]): Access[] {
    const out: Access[] = [];
    for (const r of requested) {
      let allowed: string[];
      if (user !== undefined && user === opts.admin) {
        allowed = r.actions;
      } else if (r.type === "repository") {
        const canPull = user !== undefined || r.name.startsWith("public/");
        allowed = canPull ? r.actions.filter((a) => a === "pull") : [];
      } else {
        allowed = [];
      }
      if (allowed.length > 0) out.push({ type: r.type, name: r.name, actions: allowed });
    }
    return out;
  }

  async function handle(req: IncomingMessage, res: ServerResponse, entry: TokenRequestLogEntry): Promise<void> {
    const u = new URL(req.url ?? "/", "http://x");
    const send = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      entry.status = status;
      const text = JSON.stringify(body);
      res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
      res.end(text);
    };
    const unauthorized = (): void =>
      send(401, { errors: [{ code: "UNAUTHORIZED", message: "authentication required" }], error: "invalid_grant" }, {
        "www-authenticate": 'Basic realm="test-token-server"',
      });

    const f = fault?.({ method: entry.method, path: entry.path, query: entry.query });
    if (f) {
      entry.status = f.status;
      res.writeHead(f.status, f.headers ?? {});
      res.end(f.body ?? "");
      return;
    }
    if (u.pathname !== "/token") {
      send(404, { error: "not found" });
      return;
    }
    const issuedAt = new Date().toISOString();

    if (req.method === "GET") {
      const auth = req.headers.authorization;
      let user: string | undefined;
      if (auth !== undefined) {
        const m = /^Basic\s+(\S+)$/i.exec(auth);
        if (!m?.[1]) return unauthorized();
        const decoded = Buffer.from(m[1], "base64").toString("utf8");
        const i = decoded.indexOf(":");
        const name = i < 0 ? decoded : decoded.slice(0, i);
        const pass = i < 0 ? "" : decoded.slice(i + 1);
        if (users[name] === undefined || users[name] !== pass) return unauthorized();
        user = name;
        entry.user = name;
      }
      const requested = entry.scopes.map(parseScope).filter((a): a is Access => a !== undefined);
      const token = issue(user ?? "", grant(user, requested));
      const body: Record<string, unknown> = { token, access_token: token, issued_at: issuedAt };
      if (expiresIn !== null) body.expires_in = expiresIn;
      return send(200, body);
    }

    if (req.method === "POST") {
      const form = new URLSearchParams((await readBody(req)).toString("utf8"));
      const grantType = form.get("grant_type") ?? "";
      entry.grantType = grantType;
      entry.scopes = (form.get("scope") ?? "").split(" ").filter((s) => s !== "");
      let user: string | undefined;
      let refreshToken: string | undefined;
      if (grantType === "password") {
        const name = form.get("username") ?? "";
        const pass = form.get("password");
        if (users[name] === undefined || users[name] !== pass) return unauthorized();
        user = name;
        if (form.get("access_type") === "offline") {
          refreshToken = randomBytes(16).toString("hex");
          identityTokens[refreshToken] = name;
        }
      } else if (grantType === "refresh_token") {
        const rt = form.get("refresh_token") ?? "";
        const name = identityTokens[rt];
        if (name === undefined) return unauthorized();
        user = name;
        refreshToken = rt;
      } else {
        return send(400, { error: "unsupported_grant_type" });
      }
      entry.user = user;
      const requested = entry.scopes.map(parseScope).filter((a): a is Access => a !== undefined);
      const token = issue(user, grant(user, requested));
      const body: Record<string, unknown> = { access_token: token, scope: entry.scopes.join(" "), issued_at: issuedAt };
      if (expiresIn !== null) body.expires_in = expiresIn;
      if (refreshToken !== undefined) body.refresh_token = refreshToken;
      return send(200, body);
    }
    send(405, { error: "method not allowed" });
  }

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    const u = new URL(req.url ?? "/", "http://x");
    const query: Record<string, string> = {};
    for (const [k, v] of u.searchParams) {
      if (SECRET_KEY.test(k)) continue;
      query[k] = query[k] === undefined ? v : `${query[k]} ${v}`;
    }
    const scopes = u.searchParams.getAll("scope").flatMap((s) => s.split(" ")).filter((s) => s !== "");
    const entry: TokenRequestLogEntry = {
      method: req.method ?? "",
      path: u.pathname,
      query,
      scopes,
      hadAuthorization: req.headers.authorization !== undefined,
      status: 0,
    };
    log.push(entry);
    handle(req, res, entry).catch(() => {
      entry.status = 500;
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  };

  const server: Server = opts.tls
    ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }, listener)
    : createHttpServer(listener);
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("secureConnection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  server.unref(); // never keep the test process alive on its own
  const addr = server.address();
  if (addr === null || typeof addr === "string") throw new Error("token server: no address");
  const url = `${opts.tls ? "https" : "http"}://127.0.0.1:${addr.port}`;

  return {
    url,
    realm: `${url}/token`,
    service: opts.service,
    issuer: opts.issuer,
    requests: () => log.map((e) => ({ ...e, query: { ...e.query }, scopes: [...e.scopes] })),
    clear: () => {
      log.length = 0;
    },
    setFault: (fn) => {
      fault = fn;
    },
    setExpiresIn: (s) => {
      expiresIn = s;
    },
    issue,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
