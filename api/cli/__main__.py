"""``python -m api.cli``: the ``wangge`` command."""

from api.cli import main

main()
