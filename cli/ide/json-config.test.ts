import test from "ava";
import { detectFormatting, sameJson, setJsonValue } from "./json-config.js";

// JSON(C) edits touch only the entry: neighbours written on one line stay on one line, line endings and indentation
// are the file's own, and removing the entry gives back the original bytes.

test("insertion keeps a one-line neighbour, the file's indentation and its CRLF line endings", (t) => {
  const text = '{\r\n    "mcpServers": {\r\n        "a": { "url": "x" }\r\n    }\r\n}\r\n';
  const added = setJsonValue(text, ["mcpServers", "deploystack"], { url: "y" });
  t.is(added, '{\r\n    "mcpServers": {\r\n        "a": { "url": "x" },\r\n        "deploystack": {\r\n            "url": "y"\r\n        }\r\n    }\r\n}\r\n');
  t.is(setJsonValue(added, ["mcpServers", "deploystack"], undefined), text);
});

test("an empty servers object, a missing one, an empty file, a minified file", (t) => {
  t.is(setJsonValue('{\n\t"mcpServers": {}\n}\n', ["mcpServers", "d"], { url: "y" }), '{\n\t"mcpServers": {\n\t\t"d": {\n\t\t\t"url": "y"\n\t\t}\n\t}\n}\n');
  t.is(setJsonValue('{\n  "theme": "x"\n}\n', ["mcpServers", "d"], { url: "y" }), '{\n  "theme": "x",\n  "mcpServers": {\n    "d": {\n      "url": "y"\n    }\n  }\n}\n');
  t.is(setJsonValue("", ["servers", "d"], { url: "y" }), '{\n  "servers": {\n    "d": {\n      "url": "y"\n    }\n  }\n}\n');
  t.is(setJsonValue('{"a":1}', ["mcpServers", "d"], { url: "y" }), '{"a":1,"mcpServers": {"d":{"url":"y"}}}');
});

test("formatting detection and order-blind equality", (t) => {
  t.deepEqual(detectFormatting('{\n\t"a": 1\n}'), { insertSpaces: false, tabSize: 4, eol: "\n" });
  t.deepEqual(detectFormatting('{\r\n   "a": 1\r\n}'), { insertSpaces: true, tabSize: 3, eol: "\r\n" });
  t.true(sameJson({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 }));
  t.false(sameJson({ a: 1 }, { a: 1, b: undefined }));
  t.false(sameJson([1, 2], [2, 1]));
});
