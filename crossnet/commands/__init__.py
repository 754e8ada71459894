"""One module per ``crossnet`` subcommand (add_arguments + run)."""
