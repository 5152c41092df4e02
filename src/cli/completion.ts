/**
 * `function-runner completion bash|zsh`: completion scripts generated from
 * the flag schema, so they list each command's own flags.
 */
import { COMMANDS, flagsOf, OUTPUTS } from "../config/schema.ts";

export const SHELLS = ["bash", "zsh"] as const;
export type Shell = (typeof SHELLS)[number];

const WORDS = [...COMMANDS, "completion", "version", "help", "wrapper-server"];

const flagWords = (c: (typeof COMMANDS)[number]): string =>
  flagsOf(c)
    .flatMap((f) => [`--${f.name}`, ...(f.short === undefined ? [] : [`-${f.short}`])])
    .join(" ");

function bash(): string {
  const cases = COMMANDS.map((c) => `    ${c}) flags="${flagWords(c)}" ;;`).join("\n");
  return `# function-runner bash completion: source <(function-runner completion bash)
_function_runner() {
  local cur prev cmd flags i
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  cmd=serve
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in
      ${WORDS.join("|")}) cmd="\${COMP_WORDS[i]}"; break ;;
    esac
  done
  case "$prev" in
    -o|--output) COMPREPLY=($(compgen -W "${OUTPUTS.join(" ")}" -- "$cur")); return ;;
    completion) COMPREPLY=($(compgen -W "bash zsh" -- "$cur")); return ;;
    help) COMPREPLY=($(compgen -W "${COMMANDS.join(" ")}" -- "$cur")); return ;;
  esac
  case "$cmd" in
${cases}
    *) flags="--help" ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  elif [[ $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=($(compgen -W "${WORDS.join(" ")}" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -F _function_runner function-runner
`;
}

function zsh(): string {
  const cases = COMMANDS.map((c) => `    ${c}) flags=(${flagWords(c)}) ;;`).join("\n");
  return `#compdef function-runner
# function-runner zsh completion: function-runner completion zsh > "\${fpath[1]}/_function-runner"
_function_runner() {
  local cmd=serve w
  local -a flags
  for w in "\${(@)words[2,CURRENT-1]}"; do
    case "$w" in
      ${WORDS.join("|")}) cmd="$w"; break ;;
    esac
  done
  case "\${words[CURRENT-1]}" in
    -o|--output) compadd -- ${OUTPUTS.join(" ")}; return ;;
    completion) compadd -- bash zsh; return ;;
    help) compadd -- ${COMMANDS.join(" ")}; return ;;
  esac
  case "$cmd" in
${cases}
    *) flags=(--help) ;;
  esac
  if [[ "$PREFIX" == -* ]]; then
    compadd -- $flags
  elif (( CURRENT == 2 )); then
    compadd -- ${WORDS.join(" ")}
  else
    _files
  fi
}
# Autoloaded from $fpath (as _function-runner) it completes; sourced, it registers.
if [ "$funcstack[1]" = "_function-runner" ]; then _function_runner "$@"; else compdef _function_runner function-runner; fi
`;
}

export function completionScript(shell: Shell): string {
  return shell === "bash" ? bash() : zsh();
}
