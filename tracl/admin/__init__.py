"""`trac-admin ENV learning ...`: TracLearn's commands for admins, one
module per group of commands."""
