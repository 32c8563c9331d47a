"""``qiloop labeling users``: workforce accounts — add, list, disable, tokens, roles, passwords, unlock."""

from __future__ import annotations

import typer

from qiloop.cli.labeling.users import add, disable, ls, passwd, revoke, role, token, tokens, unlock

app = typer.Typer(help="Workforce accounts: labelers, verifiers, admins.", no_args_is_help=True)
app.command("add")(add.add)
app.command("ls")(ls.ls)
app.command("disable")(disable.disable)
app.command("token")(token.token)
app.command("tokens")(tokens.tokens)
app.command("revoke")(revoke.revoke)
app.command("role")(role.role)
app.command("passwd")(passwd.passwd)
app.command("unlock")(unlock.unlock)
