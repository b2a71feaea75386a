"""Nomination service: takes proposals from RT, desa and Disnaker officials and follows them through the pipeline."""
