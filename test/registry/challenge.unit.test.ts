import { describe, expect, test } from "../support/testing.ts";
import { RunnerError } from "../../src/errors.ts";
import {
  type Challenge,
  parseChallenge,
  parseChallenges,
  pickChallenge,
  repositoryScope,
  scopeKey,
} from "../../src/registry/challenge.ts";

const expectCode = (fn: () => unknown, code: string, fragment?: string): void => {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(RunnerError);
  expect((err as RunnerError).code).toBe(code as RunnerError["code"]);
  if (fragment !== undefined) expect((err as RunnerError).message).toContain(fragment);
};

describe("parseChallenge", () => {
  test.each<[string, Challenge]>([
    [
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io"',
      { scheme: "bearer", params: { realm: "https://auth.docker.io/token", service: "registry.docker.io" } },
    ],
    [
      'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:user/image:pull"',
      { scheme: "bearer", params: { realm: "https://ghcr.io/token", service: "ghcr.io", scope: "repository:user/image:pull" } },
    ],
    ['Basic realm="Registry Realm"', { scheme: "basic", params: { realm: "Registry Realm" } }],
    ['BASIC Realm="x"', { scheme: "basic", params: { realm: "x" } }],
    ['bEaReR REALM="a", SeRvIcE="b"', { scheme: "bearer", params: { realm: "a", service: "b" } }],
    // commas and equals signs inside quotes
    ['Bearer scope="repository:a:pull,push",realm="r"', { scheme: "bearer", params: { scope: "repository:a:pull,push", realm: "r" } }],
    ['Bearer realm="a=b,c=d"', { scheme: "bearer", params: { realm: "a=b,c=d" } }],
    // backslash escapes
    ['Bearer realm="say \\"hi\\"", service="back\\\\slash"', { scheme: "bearer", params: { realm: 'say "hi"', service: "back\\slash" } }],
    ['Bearer realm="\\a\\b"', { scheme: "bearer", params: { realm: "ab" } }],
    ['Bearer realm=""', { scheme: "bearer", params: { realm: "" } }],
    // unquoted token values, and bare URLs some registries send
    ["Bearer realm=https://auth.example.com/token,service=example", { scheme: "bearer", params: { realm: "https://auth.example.com/token", service: "example" } }],
    ["Basic realm=registry", { scheme: "basic", params: { realm: "registry" } }],
    // extra whitespace everywhere, BWS around "="
    ['  Bearer    realm = "r" ,   service =  "s"  ,  ', { scheme: "bearer", params: { realm: "r", service: "s" } }],
    ['Bearer\trealm="r",\tservice="s"', { scheme: "bearer", params: { realm: "r", service: "s" } }],
    // empty list elements and missing commas between params
    ['Bearer realm="r",,,service="s"', { scheme: "bearer", params: { realm: "r", service: "s" } }],
    ['Bearer realm="r" service="s"', { scheme: "bearer", params: { realm: "r", service: "s" } }],
    // no params at all
    ["Bearer", { scheme: "bearer", params: {} }],
    ["Basic   ", { scheme: "basic", params: {} }],
    // duplicated params: last wins (as Go's map assignment)
    ['Bearer realm="a", realm="b"', { scheme: "bearer", params: { realm: "b" } }],
    // token68 form is tolerated and carries no params
    ["Negotiate YIIC==", { scheme: "negotiate", params: {} }],
    ["Basic dXNlcjpwYXNz", { scheme: "basic", params: {} }],
    // the first of several
    ['Basic realm="x", Bearer realm="y",service="z"', { scheme: "basic", params: { realm: "x" } }],
    // error params pass through
    [
      'Bearer realm="r",service="s",error="invalid_token",error_description="The access token expired"',
      { scheme: "bearer", params: { realm: "r", service: "s", error: "invalid_token", error_description: "The access token expired" } },
    ],
  ])("%p", (header, want) => {
    expect(parseChallenge(header)).toStrictEqual(want);
  });

  test("__proto__ is an ordinary key, not a prototype write", () => {
    const c = parseChallenge('Bearer __proto__="x", realm="r"');
    expect(Object.getPrototypeOf(c.params)).toBe(Object.prototype);
    expect(Object.keys(c.params).sort()).toEqual(["__proto__", "realm"]);
    expect(c.params.realm).toBe("r");
  });

  test.each(["", "   ", ",", " , , "])("empty header %p throws UNAUTHORIZED", (header) => {
    expectCode(() => parseChallenge(header), "UNAUTHORIZED", "empty");
  });

  test.each([
    ['"Bearer" realm="x"', "expected an auth scheme"],
    ['=realm', "expected an auth scheme"],
    ['Bearer realm="unterminated', "unterminated quoted string"],
    ['Bearer realm="ends with backslash\\', "unterminated quoted string"],
    ['Bearer realm="x" ;junk', "expected name=value"],
    ['Bearer realm="x" "y"', "expected name=value"],
    ['Bearer"x"', "after the scheme"],
    ['Bearer ""', "expected a parameter or token68"],
    ["Negotiate abc== def", "after token68"],
  ])("garbage %p throws UNAUTHORIZED", (header, fragment) => {
    expectCode(() => parseChallenge(header), "UNAUTHORIZED", fragment);
    expectCode(() => parseChallenges(header), "UNAUTHORIZED", "malformed WWW-Authenticate header");
  });

  test("long garbage is shortened in the message", () => {
    let msg = "";
    try {
      parseChallenge(`Bearer realm="${"x".repeat(1000)}`);
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg.length).toBeLessThan(400);
    expect(msg).toContain("…");
  });
});

describe("parseChallenges", () => {
  test("several challenges", () => {
    expect(parseChallenges('Basic realm="x", Bearer realm="y",service="z"')).toStrictEqual([
      { scheme: "basic", params: { realm: "x" } },
      { scheme: "bearer", params: { realm: "y", service: "z" } },
    ]);
  });
  test("challenges without params in between", () => {
    expect(parseChallenges('Negotiate, Basic, Bearer realm="y"')).toStrictEqual([
      { scheme: "negotiate", params: {} },
      { scheme: "basic", params: {} },
      { scheme: "bearer", params: { realm: "y" } },
    ]);
  });
  test("token68 followed by another challenge", () => {
    expect(parseChallenges('Negotiate abc==, Bearer realm="r"')).toStrictEqual([
      { scheme: "negotiate", params: {} },
      { scheme: "bearer", params: { realm: "r" } },
    ]);
  });
  test("headers joined by fetch with ', '", () => {
    const joined = ['Bearer realm="https://a/token",service="a",scope="repository:x/y:pull"', 'Basic realm="b"'].join(", ");
    expect(parseChallenges(joined)).toStrictEqual([
      { scheme: "bearer", params: { realm: "https://a/token", service: "a", scope: "repository:x/y:pull" } },
      { scheme: "basic", params: { realm: "b" } },
    ]);
  });
  test("a quoted comma does not start a challenge", () => {
    expect(parseChallenges('Bearer realm="a, Basic realm=b"')).toStrictEqual([{ scheme: "bearer", params: { realm: "a, Basic realm=b" } }]);
  });
  test.each(["", "  ", ", ,"])("empty header %p gives []", (header) => {
    expect(parseChallenges(header)).toEqual([]);
  });
});

describe("pickChallenge", () => {
  const basic: Challenge = { scheme: "basic", params: { realm: "x" } };
  const bearer: Challenge = { scheme: "bearer", params: { realm: "y" } };
  const other: Challenge = { scheme: "negotiate", params: {} };
  test("prefers Bearer over Basic regardless of order", () => {
    expect(pickChallenge([basic, bearer])).toBe(bearer);
    expect(pickChallenge([bearer, basic])).toBe(bearer);
    expect(pickChallenge([other, basic])).toBe(basic);
  });
  test("undefined when neither is offered", () => {
    expect(pickChallenge([])).toBeUndefined();
    expect(pickChallenge([other])).toBeUndefined();
  });
  test("works on parsed headers", () => {
    expect(pickChallenge(parseChallenges('Basic realm="x", Bearer realm="y",service="z"'))).toStrictEqual({
      scheme: "bearer",
      params: { realm: "y", service: "z" },
    });
  });
});

describe("repositoryScope", () => {
  test("pull by default", () => {
    expect(repositoryScope("library/ubuntu")).toBe("repository:library/ubuntu:pull");
  });
  test("several actions, deduplicated in order", () => {
    expect(repositoryScope("a/b", ["pull", "push"])).toBe("repository:a/b:pull,push");
    expect(repositoryScope("a/b", ["push", "pull", "push"])).toBe("repository:a/b:push,pull");
  });
  test.each<[string, string[]]>([
    ["", ["pull"]],
    ["a/b", []],
    ["a/b", [""]],
    ["a/b", ["pull,push"]],
    ["a/b", ["pu:ll"]],
  ])("rejects %p %p", (repo, actions) => {
    expectCode(() => repositoryScope(repo, actions), "INVALID_ARGUMENT");
  });
});

describe("scopeKey", () => {
  const realm = "https://auth.example.com/token";
  test("order and duplicates do not matter", () => {
    const a = scopeKey(realm, "svc", ["repository:a:pull", "repository:b:pull"]);
    expect(scopeKey(realm, "svc", ["repository:b:pull", "repository:a:pull"])).toBe(a);
    expect(scopeKey(realm, "svc", ["repository:b:pull", "repository:a:pull", "repository:b:pull"])).toBe(a);
  });
  test("action order inside a scope does not matter", () => {
    expect(scopeKey(realm, "svc", ["repository:a:push,pull"])).toBe(scopeKey(realm, "svc", ["repository:a:pull,push"]));
    expect(scopeKey(realm, "svc", ["repository:a:pull,pull"])).toBe(scopeKey(realm, "svc", ["repository:a:pull"]));
  });
  test("realm, service and scopes all distinguish", () => {
    const base = scopeKey(realm, "svc", ["repository:a:pull"]);
    expect(scopeKey(`${realm}2`, "svc", ["repository:a:pull"])).not.toBe(base);
    expect(scopeKey(realm, "svc2", ["repository:a:pull"])).not.toBe(base);
    expect(scopeKey(realm, undefined, ["repository:a:pull"])).not.toBe(base);
    expect(scopeKey(realm, undefined, ["repository:a:pull"])).not.toBe(scopeKey(realm, "", ["repository:a:pull"]));
    expect(scopeKey(realm, "svc", ["repository:b:pull"])).not.toBe(base);
    expect(scopeKey(realm, "svc", ["repository:a:pull,push"])).not.toBe(base);
    expect(scopeKey(realm, "svc", [])).not.toBe(base);
  });
  test("unambiguous when parts contain separators", () => {
    expect(scopeKey("a|b", "c", ["x"])).not.toBe(scopeKey("a", "b|c", ["x"]));
    expect(scopeKey("a", "b", ["x,y"])).not.toBe(scopeKey("a", "b", ["x", "y"]));
  });
  test("scopes without actions are kept verbatim", () => {
    expect(scopeKey(realm, "s", ["registry"])).toBe(JSON.stringify([realm, "s", ["registry"]]));
  });
  test("does not mutate its input", () => {
    const scopes = ["repository:b:pull", "repository:a:pull"];
    scopeKey(realm, "s", scopes);
    expect(scopes).toEqual(["repository:b:pull", "repository:a:pull"]);
  });
});
