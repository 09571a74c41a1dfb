// Parse Cypher statements with Neo4j's own parser (@neo4j-cypher/language-support).
// stdin: JSON [{"statement": str, "parameters": {...}}]; stdout: JSON list of
// error messages per statement (empty list = the statement parses).
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

const require = createRequire(import.meta.url);
const { lintCypherQuery } = require('@neo4j-cypher/language-support');

const items = JSON.parse(readFileSync(0, 'utf8'));
const out = items.map(({ statement, parameters }) => {
  const { diagnostics } = lintCypherQuery(statement, { parameters: parameters ?? {} });
  return diagnostics.filter((d) => d.severity === 1).map((d) => d.message);
});
process.stdout.write(JSON.stringify(out));
