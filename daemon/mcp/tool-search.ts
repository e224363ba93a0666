/**
 * Full-text ranking of a tool catalog for the search mode's `find_tools` (tool-search-tools.ts):
 * a MiniSearch index (BM25+ scoring) over each tool's names, description, and the names and
 * descriptions of its parameters. An index is built once per catalog (the engine rebuilds it
 * when a profile's visible tools change), never per query.
 *
 * Terms are split on punctuation, underscores, hyphens and camelCase (`delete_entities`,
 * `deleteEntities` → `delete`, `entities`) and reduced by a light plural rule (`entities` →
 * `entity`), so "delete entity" finds `memory-delete_entities`. Queries also match by prefix
 * and, for longer words, with one or two typos.
 */
import MiniSearch from "minisearch";
import type { JsonObject } from "../upstream/types.js";
import type { ExposedTool } from "./registry.js";

/** One ranked tool. */
export interface ToolMatch {
  readonly tool: ExposedTool;
  /** MiniSearch's relevance score (higher is better); comparable within one query only. */
  readonly score: number;
}

/** A search index over one catalog. */
export interface ToolIndex {
  /** Tools matching `query`, best first, at most `limit`. An empty query matches nothing. */
  search(query: string, limit: number): ToolMatch[];
  /** How many tools the index holds. */
  readonly size: number;
}

interface ToolDocument {
  readonly id: number;
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly parameters: string;
  readonly parameterText: string;
}

const SPLIT = /[\s\p{P}\p{S}]+/u;
const CAMEL = /([a-z0-9])([A-Z])/g;

/** Splits text into words, including the parts of `snake_case`, `kebab-case` and `camelCase` names. */
function tokenize(text: string): string[] {
  return text.replace(CAMEL, "$1 $2").split(SPLIT).filter((word) => word.length > 0);
}

/**
 * Lower-cases a word and folds common English plurals onto the singular, so that queries and
 * names meet whichever form either uses. Deliberately tiny: a stemmer's surprises are worse
 * than a missed inflection in a list of tool names.
 */
export function normalizeTerm(word: string): string {
  const term = word.toLowerCase();
  if (term.length > 4 && term.endsWith("ies")) return `${term.slice(0, -3)}y`;
  if (term.length > 4 && /(sses|xes|ches|shes)$/.test(term)) return term.slice(0, -2);
  if (term.length > 3 && term.endsWith("s") && !term.endsWith("ss") && !term.endsWith("us")) return term.slice(0, -1);
  return term;
}

/**
 * Words people use for what tool names call otherwise ("remove" for `delete_*`), added to a query's own words (at
 * query time only, so an index never grows). A short list of verbs, not a thesaurus.
 */
const QUERY_SYNONYMS: Readonly<Record<string, readonly string[]>> = {
  remove: ["delete"],
  erase: ["delete"],
  destroy: ["delete"],
  drop: ["delete"],
  make: ["create"],
  new: ["create"],
  fetch: ["get", "read"],
  retrieve: ["get", "read"],
  show: ["get", "read"],
  find: ["search"],
  lookup: ["search"],
  modify: ["update", "edit"],
  change: ["update", "edit"],
};

function text(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function documentOf(tool: ExposedTool, id: number): ToolDocument {
  const definition = tool.definition;
  const schema = (definition.inputSchema ?? {}) as JsonObject;
  const properties = (typeof schema.properties === "object" && schema.properties !== null ? schema.properties : {}) as Record<string, unknown>;
  const parameterNames = Object.keys(properties);
  const parameterText = parameterNames.map((name) => {
    const property = properties[name];
    return property !== null && typeof property === "object" ? `${text((property as JsonObject).title)} ${text((property as JsonObject).description)}` : "";
  });
  const annotations = (definition.annotations ?? {}) as JsonObject;
  return {
    id,
    // The upstream name is the tool's own words; the exposed one adds the server's prefix.
    name: `${tool.exposedName} ${tool.upstreamName}`,
    title: `${text(definition.title)} ${text(annotations.title)}`,
    description: text(definition.description),
    parameters: parameterNames.join(" "),
    parameterText: parameterText.join(" "),
  };
}

/** Builds the index of a catalog (the visible tools of one profile). */
export function createToolIndex(tools: readonly ExposedTool[]): ToolIndex {
  const index = new MiniSearch<ToolDocument>({
    fields: ["name", "title", "description", "parameters", "parameterText"],
    tokenize,
    processTerm: (term) => {
      const normalized = normalizeTerm(term);
      return normalized.length > 0 ? normalized : null;
    },
    searchOptions: {
      boost: { name: 3, title: 2, description: 1, parameters: 1.5, parameterText: 0.5 },
      prefix: (term) => term.length >= 3,
      fuzzy: (term) => (term.length >= 5 ? 0.2 : false),
      combineWith: "OR",
      processTerm: (term) => {
        const normalized = normalizeTerm(term);
        if (normalized.length === 0) return null;
        const synonyms = QUERY_SYNONYMS[normalized];
        return synonyms ? [normalized, ...synonyms] : normalized;
      },
    },
  });
  index.addAll(tools.map(documentOf));
  return {
    size: tools.length,
    search(query, limit) {
      if (query.trim() === "" || limit <= 0) return [];
      return index
        .search(query)
        .slice(0, limit)
        .map((result) => ({ tool: tools[result.id as number]!, score: result.score }));
    },
  };
}
