"""Review: the moderator API (api), its pages (pages), what both share (common), schemas."""
