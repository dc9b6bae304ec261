// Runs before anything else: records script errors, console errors and blocked requests into the
// page, so a headless browser's --dump-dom shows them (the browser test reads #tm-self-check).
window.tmErrors = [];
window.addEventListener('error', function (e) { window.tmErrors.push('error: ' + (e.message || e.type)); });
window.addEventListener('unhandledrejection', function (e) { window.tmErrors.push('unhandled rejection: ' + e.reason); });
document.addEventListener('securitypolicyviolation', function (e) { window.tmErrors.push('blocked request: ' + e.blockedURI); });
(function () { var original = console.error; console.error = function () { window.tmErrors.push('console.error: ' + Array.prototype.join.call(arguments, ' ')); return original.apply(console, arguments); }; })();
