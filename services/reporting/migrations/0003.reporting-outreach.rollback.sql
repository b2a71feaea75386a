DROP TABLE report_forecasts;
DROP TABLE report_population;
DROP TABLE report_objections;
