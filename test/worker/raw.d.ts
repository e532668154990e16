/** A file's text, as Vite's `?raw` suffix imports it (the tests read `.dev.vars.example` so). */
declare module "*?raw" {
  const text: string;
  export default text;
}
