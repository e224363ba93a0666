import test from "ava";
import { GatewayError } from "../errors.js";
import { parseTeamFile } from "./load-team-file.js";

/**
 * `profiles:` in the team file (issue 14.2): the shape, the defaults, and the errors — each positioned at
 * file:line:column with its field, an unknown server with a "did you mean".
 */

const base = [
  "teams:",
  "  - id: web",
  "    servers:",
  "      - name: github",
  "        command: node",
  "      - name: figma",
  "        command: node",
  "      - name: memory",
  "        command: node",
];

function parse(lines: readonly string[]) {
  return parseTeamFile(`${[...base, ...lines].join("\n")}\n`, "/tmp/team.yaml", { displayPath: "team.yaml", variables: {} });
}

function problems(lines: readonly string[]): string {
  const error = (() => {
    try {
      parse(lines);
    } catch (caught) {
      return caught;
    }
    return undefined;
  })();
  if (!(error instanceof GatewayError)) throw new Error("the file was accepted");
  return error.message;
}

test("profiles load in file order with the mode defaulting to all", (t) => {
  const file = parse([
    "    profiles:",
    "      frontend:",
    "        description: What the web app needs",
    "        servers: [github, figma]",
    '        include: ["github-*", "figma-get_*"]',
    '        exclude: ["github-delete_*"]',
    "      lookup:",
    "        tools: search",
  ]);
  t.deepEqual(file.teams[0]!.profiles, [
    {
      name: "frontend",
      description: "What the web app needs",
      servers: ["github", "figma"],
      include: ["github-*", "figma-get_*"],
      exclude: ["github-delete_*"],
      tools: "all",
    },
    { name: "lookup", tools: "search" },
  ]);
});

test("a team without profiles has none", (t) => {
  t.is(parse([]).teams[0]!.profiles, undefined);
});

test("an unknown server in a profile is reported at its entry, with the closest server name", (t) => {
  const message = problems(["    profiles:", "      frontend:", "        servers: [github, figmaa]"]);
  t.regex(message, /team\.yaml:12:\d+: teams\[0\]\.profiles\.frontend\.servers\[1\]: profile "frontend" names server "figmaa", which the team does not have; did you mean "figma"\?/);
});

test("a list under tools: says that tools is the mode and where globs go", (t) => {
  const message = problems(["    profiles:", "      frontend:", '        tools: ["github-*"]']);
  t.regex(message, /team\.yaml:12:\d+: teams\[0\]\.profiles\.frontend\.tools: expected "all" or "search" \(the mode\); tool globs go in "include" and "exclude"/);
  t.regex(problems(["    profiles:", "      frontend:", "        tools: everything"]), /profiles\.frontend\.tools: expected "all" or "search"$/m);
});

test("a misspelt profile field gets a did-you-mean, and a profile name must fit a URL path segment", (t) => {
  t.regex(problems(["    profiles:", "      frontend:", '        includes: ["x"]']), /teams\[0\]\.profiles\.frontend.*includes.*did you mean "include"/);
  t.regex(problems(["    profiles:", "      front end:", "        tools: all"]), /profile names must match/);
});
