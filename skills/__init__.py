"""Skills: the neutral contract (`Invocation`, `Reply`, `SkillContext`), grammar, registry and
dispatcher here; the commands in `commands/`; messages kept current in `views/`."""
