/** Terraform reads `${…}` and `%{…}` in any string as a template; literal text must escape them. */
export const escapeTerraform = (s: string): string => s.replace(/([$%])\{/g, (_m, c: string) => `${c}${c}{`);
