import test from "ava";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { ServerChangeKind, TeamSchema } from "../../gen/deploystack/gateway/v1/team_pb.js";
import { TeamService } from "../../gen/deploystack/gateway/v1/team_service_pb.js";
import { runVerb } from "../dial.js";
import { createCapturedIo } from "../io.js";
import { explainPolicy } from "./policy.js";
import { listTeams, switchTeam, syncTeams } from "./teams.js";

const teams = [
  create(TeamSchema, { id: "team-a", name: "Alpha Team", slug: "alpha", role: "team_admin", isDefault: true, isCurrent: false }),
  create(TeamSchema, { id: "team-b", name: "Beta Team", slug: "beta", role: "team_user", isDefault: false, isCurrent: true }),
];

function setup() {
  const switched: string[] = [];
  const transport = createRouterTransport((router) => {
    router.service(TeamService, {
      listTeams: () => ({ teams }),
      getCurrentTeam: () => ({ team: teams[1] }),
      switchTeam(req) {
        switched.push(req.team);
        const team = teams.find((candidate) => candidate.id === req.team || candidate.name === req.team);
        if (!team) throw new ConnectError(`team "${req.team}" not found`, Code.NotFound);
        return { team: { ...team, isCurrent: true } };
      },
      syncConfig: () => ({
        changes: [
          { serverName: "GitHub Tools", kind: ServerChangeKind.INVALID, reason: "not started: a setting is missing" },
          { serverName: "echo", kind: ServerChangeKind.CHANGED, reason: "args changed — restarted with the new config" },
          { serverName: "notes", kind: ServerChangeKind.UNCHANGED, reason: "" },
        ],
      }),
      explainPolicy: (req) => ({
        decision: { tool: req.tool, allowed: false, rule: "deny rule `x-*`", role: "team_user", explanation: `denied by deny rule \`x-*\` of team "team-b" for role team_user` },
      }),
    });
  });
  return { client: createClient(TeamService, transport), io: createCapturedIo(), switched };
}

test("teams list marks the current team", async (t) => {
  const { client, io } = setup();
  t.is(await listTeams(client, {}, io), 0);
  t.is(
    io.out(),
    ["CURRENT  ID      NAME        ROLE        DEFAULT", "         team-a  Alpha Team  team_admin  yes", "*        team-b  Beta Team   team_user", ""].join("\n"),
  );
});

test("teams list --json is the proto JSON", async (t) => {
  const { client, io } = setup();
  t.is(await listTeams(client, { json: true }, io), 0);
  t.like(JSON.parse(io.out()).teams[1], { id: "team-b", role: "team_user", isCurrent: true });
});

test("teams switch sends the name as typed and confirms", async (t) => {
  const { client, io, switched } = setup();
  t.is(await switchTeam(client, { team: "Alpha Team" }, io), 0);
  t.deepEqual(switched, ["Alpha Team"]);
  t.is(io.out(), 'switched to team "Alpha Team" (team-a, role team_admin)\n');
});

test("teams switch to an unknown team is one line and exit 1", async (t) => {
  const { client, io } = setup();
  t.is(await runVerb(io, "/tmp/x.sock", () => switchTeam(client, { team: "2" }, io)), 1);
  t.is(io.err(), 'team "2" not found\n');
});

test("teams sync prints a table of changes", async (t) => {
  const { client, io } = setup();
  t.is(await syncTeams(client, {}, io), 0);
  t.is(
    io.out(),
    [
      "SERVER        CHANGE     REASON",
      "GitHub Tools  INVALID    not started: a setting is missing",
      "echo          CHANGED    args changed — restarted with the new config",
      "notes         UNCHANGED",
      "",
    ].join("\n"),
  );
});

test("policy explain prints the explanation, or the decision as JSON", async (t) => {
  const { client, io } = setup();
  t.is(await explainPolicy(client, { tool: "x-delete" }, io), 0);
  t.is(io.out(), 'x-delete: denied by deny rule `x-*` of team "team-b" for role team_user\n');
  const json = createCapturedIo();
  t.is(await explainPolicy(client, { tool: "x-delete", json: true }, json), 0);
  t.like(JSON.parse(json.out()).decision, { tool: "x-delete", role: "team_user", rule: "deny rule `x-*`" });
});
