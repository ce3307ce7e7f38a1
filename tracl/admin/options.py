"""The option parser the `learning` admin commands share: positional
arguments and `--flag value` options, as trac-admin hands them over."""

from trac.admin.api import AdminCommandError
from trac.util.translation import _


def parse_options(args, flags):
    """Split `args` into positional arguments and `--flag value` options;
    `flags` lists the accepted flags."""
    positional, options = [], {}
    args = list(args)
    while args:
        arg = args.pop(0)
        if arg.startswith('--'):
            name = arg[2:]
            if name not in flags:
                raise AdminCommandError(_("Unknown option %(option)s.",
                                          option=arg))
            if not args:
                raise AdminCommandError(_("Option %(option)s needs a "
                                          "value.", option=arg))
            options.setdefault(name, []).append(args.pop(0))
        else:
            positional.append(arg)
    return positional, options
