/** Text modules (wrangler's default rule for *.txt): the file's contents as a string, never parsed as JavaScript. */
declare module "*.txt" {
  const text: string;
  export default text;
}
