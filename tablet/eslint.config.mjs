// ESLint over the browser code (make lint): the tablet app (ES modules), its service worker, the
// kiosk's capture page (a classic script), the measuring tools' page modules (kiosk/tablet/*.js: the
// benchmark section's and the browser gap's, ES modules) and the tests' page modules
// (tests/kiosk/tablet/js, ES modules). eslint, @eslint/js and globals are this folder's npm devDependencies (make tablet
// installs them at the versions package-lock.json pins).
import js from "@eslint/js";
import globals from "globals";

// a rest sibling (const { synced_at: _, ...body } = rec) is how a field is left out of a copy
const rules = { "no-unused-vars": ["error", { ignoreRestSiblings: true }] };

// Run from the repository root (make lint): with --config, the patterns below are relative to it.
export default [
  { ignores: ["tablet/node_modules/**", "site/**", ".venv*/**", ".cache/**"] },
  {
    files: ["kiosk/tablet/web/**/*.js", "kiosk/tablet/*.js", "tests/kiosk/tablet/js/**/*.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: { ...globals.browser } },
    rules: { ...js.configs.recommended.rules, ...rules },
  },
  {
    files: ["kiosk/tablet/web/sw.js"],
    languageOptions: { sourceType: "script", globals: { ...globals.serviceworker } },
  },
  {
    files: ["kiosk/server/static/**/*.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "script", globals: { ...globals.browser } },
    rules: { ...js.configs.recommended.rules, ...rules },
  },
];
