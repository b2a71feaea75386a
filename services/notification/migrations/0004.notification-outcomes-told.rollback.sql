DROP TABLE outcomes_told;
