"""``nubo completion bash|zsh``: shell completion generated from the parsers.

The script lists every noun, verb and option as the parser has them (built
from the verb tables), so it never drifts from the commands; it covers nubo
and the one* commands. Install with ``source <(nubo completion bash)``.
"""
from __future__ import annotations

import argparse
import shlex

from nubo.cli.context import Context
from nubo.cli.verbs import Verb, arg


def _subcommands(p: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            return {name: sub for name, sub in action.choices.items()}
    return {}


def _helps(p: argparse.ArgumentParser) -> dict[str, str]:
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            return {a.dest: a.help or "" for a in action._choices_actions}
    return {}


def _options(p: argparse.ArgumentParser) -> str:
    return " ".join(sorted(o for o in p._option_string_actions if o.startswith("--")) +
                    sorted(o for o in p._option_string_actions if not o.startswith("--")))


def tree() -> tuple[dict[str, str], dict[str, dict[str, str]], dict[str, str], dict[str, str]]:
    """(noun -> help, noun -> {verb: help}, "noun verb" -> options, classic -> noun)."""
    from nubo.cli.main import _extra_verbs
    from nubo.cli.nouns import all_nouns
    from nubo.cli.argparsers import top_parser
    nouns = all_nouns()
    top = top_parser(nouns, _extra_verbs())
    helps, verbs, opts = _helps(top), {}, {}
    for name, p in _subcommands(top).items():
        subs = _subcommands(p)
        if subs:
            verbs[name] = _helps(p)
            for verb, vp in subs.items():
                opts[f"{name} {verb}"] = _options(vp)
        else:
            opts[name] = _options(p)
    return helps, verbs, opts, {n.classic: n.name for n in nouns if n.classic}


def _q(text: str) -> str:
    return shlex.quote(text)


def bash() -> str:
    nouns, verbs, opts, classic = tree()
    lines = ["# bash completion for nubo and the one* commands: source <(nubo completion bash)",
             f"_nubo_nouns={_q(' '.join(nouns))}", "declare -gA _nubo_verbs=("]
    lines += [f"  [{n}]={_q(' '.join(v))}" for n, v in verbs.items()]
    lines += [")", "declare -gA _nubo_opts=("]
    lines += [f"  [{_q(k)}]={_q(v)}" for k, v in opts.items()]
    lines += [")", "declare -gA _nubo_classic=("]
    lines += [f"  [{c}]={n}" for c, n in classic.items()]
    lines += [")", _BASH_FUNCTION, f"complete -o default -F _nubo nubo {' '.join(classic)}", ""]
    return "\n".join(lines)


_BASH_FUNCTION = r'''_nubo() {
  local cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[0]##*/} i=1 noun key
  COMPREPLY=()
  if [[ $cmd == nubo ]]; then
    if (( COMP_CWORD == 1 )); then
      COMPREPLY=( $(compgen -W "$_nubo_nouns" -- "$cur") ); return
    fi
    noun=${COMP_WORDS[1]}; i=2
  else
    noun=${_nubo_classic[$cmd]}
  fi
  if [[ -n ${_nubo_verbs[$noun]} ]]; then
    if (( COMP_CWORD == i )); then
      COMPREPLY=( $(compgen -W "${_nubo_verbs[$noun]}" -- "$cur") ); return
    fi
    key="$noun ${COMP_WORDS[i]}"
  else
    key=$noun
  fi
  if [[ $cur == -* ]]; then
    COMPREPLY=( $(compgen -W "${_nubo_opts[$key]}" -- "$cur") )
  fi
}'''


def zsh() -> str:
    nouns, verbs, opts, classic = tree()
    cmds = " ".join(["nubo", *classic])

    def described(items: dict[str, str]) -> str:
        return " ".join(_q(f"{k}:{v.replace(':', ' ')}") for k, v in items.items())
    lines = [f"#compdef {cmds}",
             "# zsh completion for nubo and the one* commands: source <(nubo completion zsh)",
             f"_nubo_nouns=({described(nouns)})"]
    lines += [f"_nubo_v_{n}=({described(v)})" for n, v in verbs.items()]
    lines += ["typeset -gA _nubo_opts _nubo_classic",
              "_nubo_opts=(" + " ".join(f"{_q(k)} {_q(v)}" for k, v in opts.items()) + ")",
              "_nubo_classic=(" + " ".join(f"{c} {n}" for c, n in classic.items()) + ")",
              _ZSH_FUNCTION, f"compdef _nubo {cmds}", ""]
    return "\n".join(lines)


_ZSH_FUNCTION = r'''_nubo() {
  local cmd=${words[1]:t} noun key off=2
  if [[ $cmd == nubo ]]; then
    if (( CURRENT == 2 )); then _describe 'command' _nubo_nouns; return; fi
    noun=${words[2]}; off=3
  else
    noun=${_nubo_classic[$cmd]}
  fi
  if (( ${+parameters[_nubo_v_$noun]} )); then
    if (( CURRENT == off )); then _describe 'verb' _nubo_v_$noun; return; fi
    key="$noun ${words[off]}"
  else
    key=$noun
  fi
  if [[ ${words[CURRENT]} == -* ]]; then
    compadd -- ${=_nubo_opts[$key]}
  else
    _files
  fi
}'''


def _completion(ctx: Context, a: argparse.Namespace) -> None:
    ctx.out(bash() if a.shell == "bash" else zsh())


COMPLETION = Verb("completion", "print a shell completion script (bash or zsh)",
                  "source <({cmd} completion bash)", _completion,
                  (arg("shell", choices=("bash", "zsh"), help="the shell"),), connects=False)
