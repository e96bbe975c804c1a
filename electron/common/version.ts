/** The application's version; kept equal to package.json by a unit test. */
export const APP_VERSION = '0.1.0';
