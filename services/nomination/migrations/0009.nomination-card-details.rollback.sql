DROP INDEX IF EXISTS nominations_enrolled_desa;
UPDATE nominations SET progress = progress - 'coverage_start' - 'funding_source_name'
WHERE progress ? 'coverage_start' OR progress ? 'funding_source_name';
