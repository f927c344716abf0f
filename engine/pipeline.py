"""Plain helpers of the pipelines: placeholders in command steps, and run parameters.

A command step is a shell line run by ``/bin/sh -c`` in its target's folder.  Its
``{placeholders}`` name the run's parameters (``{ref}``, ``{modules}``…) and the target's
fields (``{port}``, ``{database}``, ``{workspace_path}``…): each is replaced by its value
quoted for the shell (``shlex.quote``), never pasted raw, so a value is always one word of
data.  Lists become one comma-separated word.  A ``{word}`` that names nothing known is
left as it is (a shell's ``${VAR}``, awk's ``{print}``).
"""

import re
import shlex

PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")
PARAM_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
MAX_PARAM_TEXT = 10_000
MAX_PARAMS = 50


class ParamError(ValueError):
    """A run parameter that cannot be used; ``str()`` says which and why."""


def text(value):
    """The text of a parameter value: lists joined by commas, booleans as 1/0."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list | tuple):
        return ",".join(text(item) for item in value)
    return str(value)


def fill(command, values):
    """``command`` with each known ``{name}`` replaced by its shell-quoted value."""

    def replace(match):
        name = match.group(1)
        if name not in values or values[name] is None:
            return match.group(0)
        return shlex.quote(text(values[name]))

    return PLACEHOLDER.sub(replace, command)


def names(command):
    """The placeholder names a command uses."""
    return set(PLACEHOLDER.findall(command or ""))


def check_params(params):
    """Run parameters: a dict of lowercase names to text, numbers, booleans or lists of
    text; returns a clean copy (raises ParamError)."""
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise ParamError('The parameters are a dictionary, such as {"ref": "v1.2"}.')
    if len(params) > MAX_PARAMS:
        raise ParamError(f"At most {MAX_PARAMS} parameters.")
    clean = {}
    for name, value in params.items():
        if not isinstance(name, str) or not PARAM_NAME.fullmatch(name):
            raise ParamError(
                f"{name!r} is not a parameter name: lowercase letters, digits and '_', "
                "starting with a letter."
            )
        clean[name] = _check_value(name, value)
    return clean


def _check_value(name, value):
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ParamError(f"The parameter {name} is not a finite number.")
        return value
    if isinstance(value, str):
        return _check_text(name, value)
    if isinstance(value, list | tuple):
        if len(value) > 1000:
            raise ParamError(f"The parameter {name} lists too many values.")
        return [_check_text(name, item) for item in value]
    raise ParamError(
        f"The parameter {name} must be text, a number, true/false or a list of texts, "
        f"not {type(value).__name__}."
    )


def _check_text(name, value):
    if not isinstance(value, str):
        raise ParamError(f"The values of the parameter {name} must be text.")
    if "\x00" in value:
        raise ParamError(f"The parameter {name} contains a NUL character.")
    if len(value) > MAX_PARAM_TEXT:
        raise ParamError(f"The parameter {name} is longer than {MAX_PARAM_TEXT} characters.")
    return value
